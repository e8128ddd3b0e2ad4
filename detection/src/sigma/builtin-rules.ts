export const BUILTIN_RULES: { name: string; text: string }[] = [];
