export { SyntheticSensor, type SyntheticSensorOptions } from "./synthetic-sensor";
export { parseMix, kindOf, syntheticBody, SYNTHETIC_KINDS, SyntheticMixError, type SyntheticKind } from "./mix";
