import { createParamDecorator, type ExecutionContext } from "@nestjs/common";

/**
 * Who is calling, as recorded in audit and action logs: "apikey:<id>" once the
 * API-key guard has authenticated the request (it sets `request.vigilActor`).
 */
export const Actor = createParamDecorator((_data: unknown, ctx: ExecutionContext): string => {
  const req = ctx.switchToHttp().getRequest<{ vigilActor?: string }>();
  return req.vigilActor ?? "api";
});
