/** Where something is written in a flow file. */
export interface SourcePosition {
  /** The file as shown to the user (relative to the working directory where possible). */
  readonly file: string;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
}
