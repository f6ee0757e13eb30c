import * as fs from 'node:fs';
import * as path from 'node:path';
import { registryManagerContract } from '@plexus/kernel/testing';
import { LocalRegistry } from '../src';
import { RecordingLogger, removeTempDirs, tempDir } from './support';

/*
 * The kernel's registry manager over this backend. An outage of a folder: it is moved away and a
 * file takes its place, so every operation fails with an I/O error (as a full disk or a lost
 * mount would); it comes back with its data.
 */
const parent = tempDir();
const dir = path.join(parent, 'registry');
const away = path.join(parent, 'registry.away');
fs.mkdirSync(dir);

afterAll(() => removeTempDirs());

registryManagerContract(
  'local',
  () => new LocalRegistry({ dir, heartbeat: 100, pollInterval: 50, logger: new RecordingLogger() }),
  {
    stop: async () => {
      if (fs.existsSync(away)) return;
      fs.renameSync(dir, away);
      fs.writeFileSync(dir, 'the registry folder is gone');
    },
    start: async () => {
      if (!fs.existsSync(away)) return;
      fs.rmSync(dir);
      fs.renameSync(away, dir);
    },
  },
  { waitLimit: 10_000 },
);
