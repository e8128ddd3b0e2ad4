export { enroll, identityFrom, type EnrollOptions } from "./enroll";
export { enrollCommand, ENROLL_HELP } from "./enroll-command";
export { tlsCredentialsFactory } from "./credentials";
export { CertificateRenewer } from "./renewer";
export { hasTlsIdentity, loadTlsIdentity, saveTlsIdentity, type TlsIdentity } from "./tls-files";
export { probeControllerCa, PinMismatch } from "./ca-probe";
