import { Controller, InternalServerErrorException, ForbiddenException, Get, Header, Inject, NotFoundException, Req, Res, StreamableFile } from "@nestjs/common";
import { ApiOperation, ApiProduces, ApiTags } from "@nestjs/swagger";
import { Public } from "../http/roles";
import { ArtifactMissing } from "../install/agent-artifacts";
import { BadOrigin, InstallService, NotServedHere } from "../install/install-service";

/** Only the peer address is read from a request here: no header decides anything. */
interface Req {
  socket: { remoteAddress?: string };
}
interface Res {
  setHeader(name: string, value: string): void;
}

async function orNotFound<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ArtifactMissing) throw new NotFoundException(err.message);
    throw err;
  }
}

/** Agent rollout: `curl -fsSLk --pinnedpubkey sha256//… https://CONTROLLER/install.sh | sudo sh -s -- --token-file FILE`. */
@ApiTags("install")
@Controller()
export class InstallController {
  constructor(@Inject(InstallService) private readonly install: InstallService) {}

  private checkPeer(req: Req): void {
    try {
      this.install.checkPeer(req.socket.remoteAddress);
    } catch (err) {
      if (err instanceof NotServedHere) throw new ForbiddenException(err.message);
      throw err;
    }
  }

  @Get("install.sh")
  @Public()
  @Header("Content-Type", "text/x-shellscript; charset=utf-8")
  @Header("Cache-Control", "no-store")
  @ApiProduces("text/x-shellscript")
  @ApiOperation({ summary: "The agent install script with this controller's URL, gRPC address, TLS key pin and CA pin filled in from configuration (no API key)" })
  script(@Req() req: Req): string {
    this.checkPeer(req);
    try {
      return this.install.script();
    } catch (err) {
      if (err instanceof BadOrigin) throw new InternalServerErrorException(err.message);
      if (err instanceof ArtifactMissing) throw new NotFoundException(err.message);
      throw err;
    }
  }

  @Get("api/v1/agent/binary")
  @Public()
  @Header("Cache-Control", "no-store")
  @ApiProduces("application/octet-stream")
  @ApiOperation({ summary: "The agent binary (Linux x86-64 single executable); its sha256 in the X-Vigil-Sha256 header (no API key)" })
  async binary(@Req() req: Req, @Res({ passthrough: true }) res: Res): Promise<StreamableFile> {
    this.checkPeer(req);
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
  async sha256(@Req() req: Req): Promise<string> {
    this.checkPeer(req);
    const info = await orNotFound(this.install.binaryInfo());
    return `${info.sha256}  vigil-agent\n`;
  }
}
