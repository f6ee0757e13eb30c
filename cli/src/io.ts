/** Where a command writes: stdout for answers, stderr for progress and errors. Tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Where the bench progress bar draws: stderr when it is a terminal, otherwise nowhere. */
  readonly progress?: NodeJS.WritableStream;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
  progress: process.stderr.isTTY ? process.stderr : undefined,
};
