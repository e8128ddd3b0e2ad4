import { Detection1732900000000 } from "./1732900000000-Detection";
import { Init1732700000000 } from "./1732700000000-Init";
import { Trust1732800000000 } from "./1732800000000-Trust";
import { Webhooks1733000000000 } from "./1733000000000-Webhooks";

/** In order. Append new migrations here; never edit one that has shipped. */
export const migrations = [Init1732700000000, Trust1732800000000, Detection1732900000000, Webhooks1733000000000];
