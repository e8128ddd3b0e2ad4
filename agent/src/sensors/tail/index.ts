export { FileTailer, type FileTailerOptions } from "./file-tailer";
export { LineSplitter } from "./line-splitter";
