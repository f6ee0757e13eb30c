import { streamingContract } from '../src/testing';

// The in-process protocol passes the same streaming contract as the wire protocols.
streamingContract('injvm');
