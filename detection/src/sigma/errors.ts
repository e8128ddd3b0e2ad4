/** A rule cannot be compiled. `path` locates the offending YAML key so the error can name its line. */
export class CompileError extends Error {
  constructor(
    message: string,
    readonly feature?: string,
    public path?: (string | number)[],
  ) {
    super(message);
    this.name = "CompileError";
  }
}

export function fail(message: string, feature?: string, path?: (string | number)[]): never {
  throw new CompileError(message, feature, path);
}
