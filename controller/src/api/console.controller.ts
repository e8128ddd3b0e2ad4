import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Controller, Get, NotFoundException, Param, Req, Res } from "@nestjs/common";
import { ApiExcludeController } from "@nestjs/swagger";
import { Public } from "../http/roles";

/** The built console (scripts/build/console.mjs): <repo>/dist/console, from src/console or dist/console alike. */
export const CONSOLE_DIR = resolve(__dirname, "..", "..", "..", "dist", "console");

interface FileReq {
  path: string;
}

interface FileRes {
  headersSent: boolean;
  redirect(status: number, url: string): void;
  status(code: number): { json(body: unknown): void };
  sendFile(path: string, opts: { root: string; dotfiles: "deny"; headers: Record<string, string> }, cb: (err?: Error & { status?: number }) => void): void;
}

/**
 * Everything the page may load comes from here; the API is same-origin and the live stream is
 * a websocket to the same host. No inline script, no third party: a stored XSS in an alert
 * field (attacker-controlled command lines end up on screen) has nowhere to send an API key.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

/**
 * Serves the analyst web console as static files. Public: the files hold no data and the
 * sign-in page must load without a key; every API call the console makes carries one.
 */
@ApiExcludeController()
@Public()
@Controller()
export class ConsoleController {
  @Get()
  root(@Res() res: FileRes) {
    res.redirect(302, "/console/");
  }

  @Get(["console", "console/*path"])
  file(@Req() req: FileReq, @Param("path") path: string | string[] | undefined, @Res() res: FileRes) {
    const rel = Array.isArray(path) ? path.join("/") : path;
    // Relative asset URLs in index.html need the trailing slash ("/console" also matches "/console/").
    if (!rel && !req.path.endsWith("/")) return res.redirect(301, "/console/");
    if (!existsSync(join(CONSOLE_DIR, "index.html"))) throw new NotFoundException("the web console is not built: run `npm run build`");
    // Revalidated every time (ETag) so a new build is picked up at once; the files are small.
    const headers = { ...SECURITY_HEADERS, "Cache-Control": "no-cache" };
    // root + dotfiles "deny": express refuses "..", absolute paths and hidden files.
    res.sendFile(rel || "index.html", { root: CONSOLE_DIR, dotfiles: "deny", headers }, (err) => {
      if (!err || res.headersSent) return;
      const status = err.status === 404 || err.status === 403 ? err.status : 500;
      res.status(status).json({ statusCode: status, message: status === 500 ? "could not read the file" : "not found" });
    });
  }
}
