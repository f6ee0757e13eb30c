import { streamingContract } from '@plexus/kernel/testing';

// The kernel's behaviour suite for streams, over the plexus protocol on a real TCP socket.
streamingContract('plexus');
