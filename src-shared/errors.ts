/** Errors cross process and IPC boundaries as plain {name, message}: an Error loses its name crossing them. */
export interface SerializedError {
  name: string;
  message: string;
}
