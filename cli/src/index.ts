/**
 * `plexus` — the command line of Plexus (bin `plexus`) and the batteries-included preset: installing
 * this package brings the standard plugin set (protocols, serializers, compressors, registries,
 * load balancers, clusters, routers, filters). The exports let scripts and tests drive the same code.
 */
export { main, buildProgram, USAGE_ERROR } from './program';
export { CliErrors } from './errors';
export { parseArgsJson, describeJsonError, findJsonError, parseRegistryOption, checkUrlOption } from './args';
export { runLoad, type LoadPlan, type LoadResult } from './bench-loop';
export { runCall } from './commands/call';
export { runLs, formatLs, type LsReport } from './commands/ls';
export { runBench, formatBench, type BenchReport } from './commands/bench';
export { runConfig } from './commands/config';
export { readRuleFile, formatRules } from './commands/rule';
export { errorLine, toJson, table } from './format';
export type { Io } from './io';
