import { InjvmProtocol } from '../src/protocol/injvm-protocol';
import { URL } from '../src/url/url';
import { protocolContract } from '../src/testing';

protocolContract('injvm', () => ({ protocol: new InjvmProtocol(), url: () => URL.parse('injvm://127.0.0.1/demo.Greeter') }), { wire: false });
protocolContract(
  'injvm, versioned and grouped service',
  () => ({ protocol: new InjvmProtocol(), url: () => URL.parse('injvm://127.0.0.1/demo.Greeter?version=1.0.0&group=blue') }),
  { wire: false },
);
