import { BadRequestException, Body, Controller, Get, Inject, Put } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiTags } from "@nestjs/swagger";
import { PolicyService } from "../policy/policy-service";
import { PolicySpecError } from "../policy/policy-spec";
import { LOCAL_POLICY_TYPES } from "@vigil/proto";
import { Actor } from "./actor";
import { Roles } from "../http/roles";

@ApiTags("agent policy")
@Controller("api/v1/agent-policy")
export class PolicyController {
  constructor(@Inject(PolicyService) private readonly policy: PolicyService) {}

  @Get()
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "The local policy agents enforce on their own (also offline)" })
  async get() {
    const c = await this.policy.current();
    // delivery: the size agents receive and, with includeIocs, how much of the IOC catalog fits (best first).
    return { version: c.version, ...c.spec, updatedAt: c.updatedAt ? new Date(c.updatedAt).toISOString() : null, updatedBy: c.updatedBy, delivery: await this.policy.delivery() };
  }

  @Put()
  @ApiOperation({ summary: "Replace the local policy; signed and pushed to every connected agent (and to others when they connect)" })
  @ApiBody({
    schema: {
      type: "object",
      properties: {
        rules: { type: "array", items: { type: "object", properties: { id: { type: "string" }, yaml: { type: "string" } } } },
        includeIocs: { type: "boolean" },
        actions: {
          type: "array",
          items: {
            type: "object",
            properties: {
              ruleId: { type: "string" },
              actions: { type: "array", items: { type: "object", properties: { type: { type: "string", enum: [...LOCAL_POLICY_TYPES] }, params: { type: "object" } } } },
            },
          },
        },
      },
    },
  })
  async put(@Body() body: unknown, @Actor() actor: string) {
    try {
      const r = await this.policy.update(body, actor);
      return { version: r.version, ...r.spec };
    } catch (err) {
      if (err instanceof PolicySpecError) throw new BadRequestException(err.message);
      throw err;
    }
  }
}
