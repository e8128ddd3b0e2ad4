import { createParamDecorator, type ExecutionContext } from "@nestjs/common";
import { actorOf } from "../http/roles";

/** Who is calling, as recorded in audit and action logs: "apikey:<id>" from the API-key guard. */
export const Actor = createParamDecorator((_data: unknown, ctx: ExecutionContext): string => actorOf(ctx.switchToHttp().getRequest()));
