// The parts of Alibaba's Node device SDK (alibabacloud-iot-device-sdk 1.2.8, no types of its own) the Alink tests use.
declare module 'alibabacloud-iot-device-sdk' {
  import type { EventEmitter } from 'node:events';
  interface AlinkReply { id: string; code: number; message?: string; data?: unknown; method?: string }
  interface AlinkRequest { id: string; version: string; params: Record<string, unknown>; method: string }
  interface Device extends EventEmitter {
    postProps(props: Record<string, unknown>, cb?: (res: AlinkReply) => void): void;
    postEvent(eventName: string, params: Record<string, unknown>, cb?: (res: AlinkReply) => void): void;
    onService(name: string, cb: (req: AlinkRequest, reply: (res: { id?: string; code: number; data?: unknown }) => void) => void): void;
    end(force?: boolean, cb?: () => void): void;
    readonly connected: boolean;
  }
  const iot: {
    device(config: { productKey: string; deviceName: string; deviceSecret: string; brokerUrl?: string; clientId?: string; keepalive?: number; signAlgorithm?: string }): Device;
    sdkver: string;
  };
  export default iot;
}
