/** Where a command writes: stdout for answers, stderr for progress and errors. Tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal: the bench progress bar draws only there. */
  readonly tty: boolean;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
  tty: Boolean(process.stderr.isTTY),
};
