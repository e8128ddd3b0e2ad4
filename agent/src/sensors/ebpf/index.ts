export { EbpfHelper, type EbpfHelperOptions, type EbpfHelperStats } from "./ebpf-helper";
export { EbpfProcessSensor } from "./ebpf-process-sensor";
export { EbpfNetworkSensor } from "./ebpf-network-sensor";
export { EbpfDnsSensor, type EbpfDnsSensorOptions } from "./ebpf-dns-sensor";
export { FileAttribution } from "./file-attribution";
export { locateHelper, readEmbeddedHelper, TRAILER_MAGIC } from "./helper-binary";
