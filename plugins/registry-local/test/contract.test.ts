import { registryContract } from '@plexus/kernel/testing';
import { LocalRegistry } from '../src';
import { RecordingLogger, removeTempDirs, tempDir } from './support';

// Every instance of a test shares one folder, as the processes of one machine would.
const dir = tempDir();
const logger = new RecordingLogger();

afterAll(() => {
  removeTempDirs();
  // The suite writes nothing but valid entries: any warning is a bug.
  expect(logger.warnings).toEqual([]);
});

registryContract('local (fs.watch and polling)', () => new LocalRegistry({ dir, logger }), { waitLimit: 5000 });

registryContract('local (polling only)', () => new LocalRegistry({ dir, logger, watch: false, pollInterval: 50 }), { waitLimit: 5000 });
