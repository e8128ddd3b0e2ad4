/**
 * Wire limits shared by both ends. A message above MAX_MESSAGE_BYTES is refused by
 * grpc-js before it is decoded; the per-field bounds are applied by the receiver.
 */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
export const MAX_EVENTS_PER_BATCH = 2000;
export const MAX_STRING_FIELD_BYTES = 32 * 1024;
export const MAX_PATH_BYTES = 4096;
