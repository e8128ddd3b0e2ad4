import { Init1732700000000 } from "./1732700000000-Init";

/** In order. Append new migrations here; never edit one that has shipped. */
export const migrations = [Init1732700000000];
