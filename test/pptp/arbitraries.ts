/** fast-check arbitraries shared by the PPTP tests. */
import fc from 'fast-check';
import type { ControlMessage } from '../../src/pptp/control.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Latin1 without NUL: what a NUL-padded field can carry exactly. */
const wireString = (max: number) =>
  fc.string({
    unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength: max,
  });
const str64 = wireString(64);

export const arbitraryControlMessage: fc.Arbitrary<ControlMessage> = fc.oneof(
  fc.record({
    type: fc.constant('Start-Control-Connection-Request' as const),
    protocolVersion: u16,
    framingCapabilities: u32,
    bearerCapabilities: u32,
    maximumChannels: u16,
    firmwareRevision: u16,
    hostName: str64,
    vendor: str64,
  }),
  fc.record({
    type: fc.constant('Start-Control-Connection-Reply' as const),
    protocolVersion: u16,
    resultCode: u8,
    errorCode: u8,
    framingCapabilities: u32,
    bearerCapabilities: u32,
    maximumChannels: u16,
    firmwareRevision: u16,
    hostName: str64,
    vendor: str64,
  }),
  fc.record({ type: fc.constant('Stop-Control-Connection-Request' as const), reason: u8 }),
  fc.record({
    type: fc.constant('Stop-Control-Connection-Reply' as const),
    resultCode: u8,
    errorCode: u8,
  }),
  fc.record({ type: fc.constant('Echo-Request' as const), identifier: u32 }),
  fc.record({
    type: fc.constant('Echo-Reply' as const),
    identifier: u32,
    resultCode: u8,
    errorCode: u8,
  }),
  fc.record({
    type: fc.constant('Outgoing-Call-Request' as const),
    callId: u16,
    callSerialNumber: u16,
    minimumBps: u32,
    maximumBps: u32,
    bearerType: u32,
    framingType: u32,
    receiveWindowSize: u16,
    processingDelay: u16,
    phoneNumberLength: u16,
    phoneNumber: str64,
    subaddress: str64,
  }),
  fc.record({
    type: fc.constant('Outgoing-Call-Reply' as const),
    callId: u16,
    peerCallId: u16,
    resultCode: u8,
    errorCode: u8,
    causeCode: u16,
    connectSpeed: u32,
    receiveWindowSize: u16,
    processingDelay: u16,
    physicalChannelId: u32,
  }),
  fc.record({
    type: fc.constant('Incoming-Call-Request' as const),
    callId: u16,
    callSerialNumber: u16,
    bearerType: u32,
    physicalChannelId: u32,
    dialedNumberLength: u16,
    dialingNumberLength: u16,
    dialedNumber: str64,
    dialingNumber: str64,
    subaddress: str64,
  }),
  fc.record({
    type: fc.constant('Incoming-Call-Reply' as const),
    callId: u16,
    peerCallId: u16,
    resultCode: u8,
    errorCode: u8,
    receiveWindowSize: u16,
    transmitDelay: u16,
  }),
  fc.record({
    type: fc.constant('Incoming-Call-Connected' as const),
    peerCallId: u16,
    connectSpeed: u32,
    receiveWindowSize: u16,
    transmitDelay: u16,
    framingType: u32,
  }),
  fc.record({ type: fc.constant('Call-Clear-Request' as const), callId: u16 }),
  fc.record({
    type: fc.constant('Call-Disconnect-Notify' as const),
    callId: u16,
    resultCode: u8,
    errorCode: u8,
    causeCode: u16,
    callStatistics: wireString(128),
  }),
  fc.record({
    type: fc.constant('WAN-Error-Notify' as const),
    peerCallId: u16,
    crcErrors: u32,
    framingErrors: u32,
    hardwareOverruns: u32,
    bufferOverruns: u32,
    timeoutErrors: u32,
    alignmentErrors: u32,
  }),
  fc.record({
    type: fc.constant('Set-Link-Info' as const),
    peerCallId: u16,
    sendAccm: u32,
    receiveAccm: u32,
  }),
);
