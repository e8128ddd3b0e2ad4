import { BadRequestException, Controller, Get, Header, Inject, NotFoundException, Req, Res, StreamableFile } from "@nestjs/common";
import { ApiOperation, ApiProduces, ApiTags } from "@nestjs/swagger";
import { Public } from "../auth/roles";
import { ArtifactMissing } from "./agent-artifacts";
import { BadOrigin, InstallService } from "./install-service";

interface Req {
  protocol: string;
  headers: Record<string, string | string[] | undefined>;
}
interface Res {
  setHeader(name: string, value: string): void;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(",")[0]?.trim();

async function orNotFound<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ArtifactMissing) throw new NotFoundException(err.message);
    throw err;
  }
}

/** Agent rollout: `curl -fsSL http(s)://CONTROLLER/install.sh | sudo sh -s -- --token TOKEN`. */
@ApiTags("install")
@Controller()
export class InstallController {
  constructor(@Inject(InstallService) private readonly install: InstallService) {}

  @Get("install.sh")
  @Public()
  @Header("Content-Type", "text/x-shellscript; charset=utf-8")
  @Header("Cache-Control", "no-store")
  @ApiProduces("text/x-shellscript")
  @ApiOperation({ summary: "The agent install script with this controller's URL, gRPC address and CA pin filled in (no API key)" })
  script(@Req() req: Req): string {
    try {
      return this.install.script({ protocol: req.protocol, host: first(req.headers.host), forwardedProto: first(req.headers["x-forwarded-proto"]) });
    } catch (err) {
      if (err instanceof BadOrigin || err instanceof RangeError) throw new BadRequestException(err.message);
      if (err instanceof ArtifactMissing) throw new NotFoundException(err.message);
      throw err;
    }
  }

  @Get("api/v1/agent/binary")
  @Public()
  @Header("Cache-Control", "no-store")
  @ApiProduces("application/octet-stream")
  @ApiOperation({ summary: "The agent binary (Linux x86-64 single executable); its sha256 in the X-Vigil-Sha256 header (no API key)" })
  async binary(@Res({ passthrough: true }) res: Res): Promise<StreamableFile> {
    const info = await orNotFound(this.install.binaryInfo());
    res.setHeader("X-Vigil-Sha256", info.sha256);
    return new StreamableFile(this.install.openBinary(), { type: "application/octet-stream", length: info.size, disposition: 'attachment; filename="vigil-agent"' });
  }

  @Get("api/v1/agent/binary.sha256")
  @Public()
  @Header("Content-Type", "text/plain; charset=utf-8")
  @Header("Cache-Control", "no-store")
  @ApiProduces("text/plain")
  @ApiOperation({ summary: "sha256sum line for the agent binary: `<hex>  vigil-agent` (no API key)" })
  async sha256(): Promise<string> {
    const info = await orNotFound(this.install.binaryInfo());
    return `${info.sha256}  vigil-agent\n`;
  }
}
