export { NetworkSensor, connectionKey, type NetworkSensorOptions } from "./network-sensor";
export { parseNetTable, decodeAddress, NET_TABLES, type NetProtocol, type SocketEntry } from "../../platform/linux/proc-net";
export { SocketOwners } from "./socket-owners";
