import { Detection1732900000000 } from "./1732900000000-Detection";
import { Init1732700000000 } from "./1732700000000-Init";
import { Commands1732750000000 } from "./1732750000000-Commands";
import { Playbooks1732760000000 } from "./1732760000000-Playbooks";
import { Policy1732770000000 } from "./1732770000000-Policy";
import { MissingEvents1732780000000 } from "./1732780000000-MissingEvents";
import { Trust1732800000000 } from "./1732800000000-Trust";
import { Webhooks1733000000000 } from "./1733000000000-Webhooks";
import { Inventory1733200000000 } from "./1733200000000-Inventory";
import { SelfReportedTags1733100000000 } from "./1733100000000-SelfReportedTags";
import { IocPolicyOrder1733300000000 } from "./1733300000000-IocPolicyOrder";
import { EvidenceOutOfEvents1733400000000 } from "./1733400000000-EvidenceOutOfEvents";
import { CorrelationFirings1733450000000 } from "./1733450000000-CorrelationFirings";
import { StreamOffsets1733510000000 } from "./1733510000000-StreamOffsets";
import { PartitionedEvents1733600000000 } from "./1733600000000-PartitionedEvents";

/** In order. Append new migrations here; never edit one that has shipped. */
export const migrations = [
  Init1732700000000,
  Commands1732750000000,
  Playbooks1732760000000,
  Policy1732770000000,
  MissingEvents1732780000000,
  Trust1732800000000,
  Detection1732900000000,
  Webhooks1733000000000,
  SelfReportedTags1733100000000,
  Inventory1733200000000,
  IocPolicyOrder1733300000000,
  EvidenceOutOfEvents1733400000000,
  CorrelationFirings1733450000000,
  StreamOffsets1733510000000,
  PartitionedEvents1733600000000,
];
