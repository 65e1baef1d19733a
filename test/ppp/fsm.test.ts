/**
 * Every cell of the RFC 1661 §4.1 state transition table, checked against the
 * shared automaton: the actions it takes (packets sent, layer callbacks) and the
 * state it ends in. irc/zrc are not observable by themselves and are left out of
 * the expected action lists; the timer tests cover them.
 */
import { describe, expect, it } from 'vitest';
import {
  FSM_STATES,
  Fsm,
  type FsmConfig,
  type FsmEvent,
  type FsmHandler,
  type FsmState,
  type RequestVerdict,
} from '../../src/ppp/fsm.js';
import {
  Code,
  type ConfigOption,
  decodeControlPacket,
  encodeOptions,
  option,
  u16,
} from '../../src/ppp/packet.js';

// RFC 1661 §4.1, columns 0-9: Initial Starting Closed Stopped Closing Stopping
// Req-Sent Ack-Rcvd Ack-Sent Opened. "-" is a cell that cannot occur.
const TABLE: Record<FsmEvent, string[]> = {
  Up: ['2', 'irc,scr/6', '-', '-', '-', '-', '-', '-', '-', '-'],
  Down: ['-', '-', '0', 'tls/1', '0', '1', '1', '1', '1', 'tld/1'],
  Open: ['tls/1', '1', 'irc,scr/6', '3', '5', '5', '6', '7', '8', '9'],
  Close: ['0', 'tlf/0', '2', '2', '4', '4', 'irc,str/4', 'irc,str/4', 'irc,str/4', 'tld,irc,str/4'],
  'TO+': ['-', '-', '-', '-', 'str/4', 'str/5', 'scr/6', 'scr/6', 'scr/8', '-'],
  'TO-': ['-', '-', '-', '-', 'tlf/2', 'tlf/3', 'tlf/3', 'tlf/3', 'tlf/3', '-'],
  'RCR+': [
    '-',
    '-',
    'sta/2',
    'irc,scr,sca/8',
    '4',
    '5',
    'sca/8',
    'sca,tlu/9',
    'sca/8',
    'tld,scr,sca/8',
  ],
  'RCR-': [
    '-',
    '-',
    'sta/2',
    'irc,scr,scn/6',
    '4',
    '5',
    'scn/6',
    'scn/7',
    'scn/6',
    'tld,scr,scn/6',
  ],
  RCA: ['-', '-', 'sta/2', 'sta/3', '4', '5', 'irc/7', 'scr/6', 'irc,tlu/9', 'tld,scr/6'],
  RCN: ['-', '-', 'sta/2', 'sta/3', '4', '5', 'irc,scr/6', 'scr/6', 'irc,scr/8', 'tld,scr/6'],
  RTR: ['-', '-', 'sta/2', 'sta/3', 'sta/4', 'sta/5', 'sta/6', 'sta/6', 'sta/6', 'tld,zrc,sta/5'],
  RTA: ['-', '-', '2', '3', 'tlf/2', 'tlf/3', '6', '6', '8', 'tld,scr/6'],
  RUC: ['-', '-', 'scj/2', 'scj/3', 'scj/4', 'scj/5', 'scj/6', 'scj/7', 'scj/8', 'scj/9'],
  'RXJ+': ['-', '-', '2', '3', '4', '5', '6', '6', '8', '9'],
  'RXJ-': [
    '-',
    '-',
    'tlf/2',
    'tlf/3',
    'tlf/2',
    'tlf/3',
    'tlf/3',
    'tlf/3',
    'tlf/3',
    'tld,irc,str/5',
  ],
  RXR: ['-', '-', '2', '3', '4', '5', '6', '7', '8', 'ser/9'],
};

const PACKET_ACTIONS: Record<number, string> = {
  [Code.CONFIGURE_REQUEST]: 'scr',
  [Code.CONFIGURE_ACK]: 'sca',
  [Code.CONFIGURE_NAK]: 'scn',
  [Code.CONFIGURE_REJECT]: 'scn',
  [Code.TERMINATE_REQUEST]: 'str',
  [Code.TERMINATE_ACK]: 'sta',
  [Code.CODE_REJECT]: 'scj',
  [Code.ECHO_REPLY]: 'ser',
};

const OUR_OPTIONS: ConfigOption[] = [option(1, u16(1500))];
const PEER_GOOD: ConfigOption[] = [option(1, u16(1400))];
const PEER_BAD: ConfigOption[] = [option(1, u16(10))];

class Harness {
  readonly actions: string[] = [];
  now = 0;
  readonly fsm: Fsm;
  private lastRequestId = -1;

  constructor(config: Partial<FsmConfig> = {}) {
    const handler: FsmHandler = {
      name: 'TEST',
      protocol: 0xc021,
      resetOptions: () => {},
      ourOptions: () => OUR_OPTIONS,
      evaluateRequest: (options): RequestVerdict =>
        options[0]!.data.readUInt16BE(0) < 64
          ? { kind: 'nak', options: [option(1, u16(64))] }
          : { kind: 'ack' },
      acked: () => {},
      naked: () => true,
      rejected: () => true,
      layerUp: () => this.actions.push('tlu'),
      layerDown: () => this.actions.push('tld'),
      layerStarted: () => this.actions.push('tls'),
      layerFinished: () => this.actions.push('tlf'),
      extraCode: (packet, fsm) => {
        if (packet.code !== Code.ECHO_REQUEST) return 'unknown';
        if (fsm.state === 'opened') fsm.sendPacket(Code.ECHO_REPLY, packet.identifier, packet.data);
        return 'handled';
      },
    };
    this.fsm = new Fsm(
      handler,
      {
        now: () => this.now,
        send: (_protocol, packet) => {
          const p = decodeControlPacket(packet);
          if (!p.ok) throw new Error('automaton sent a malformed packet');
          if (p.value.code === Code.CONFIGURE_REQUEST) this.lastRequestId = p.value.identifier;
          this.actions.push(PACKET_ACTIONS[p.value.code] ?? `code${p.value.code}`);
        },
        peerMru: () => 1500,
      },
      { restartMs: 1000, maxConfigure: 10, maxTerminate: 10, maxFailure: 5, ...config },
    );
  }

  packet(code: number, identifier: number, data: Buffer = Buffer.alloc(0)): void {
    this.fsm.receive({ code, identifier, data });
  }

  fire(event: FsmEvent): void {
    const f = this.fsm;
    switch (event) {
      case 'Up':
        return f.up();
      case 'Down':
        return f.down();
      case 'Open':
        return f.open();
      case 'Close':
        return f.close('test');
      case 'TO+':
      case 'TO-':
        this.now = f.timeout ?? this.now + 1000;
        return f.handleTimeout(this.now);
      case 'RCR+':
        return this.packet(Code.CONFIGURE_REQUEST, 0x42, encodeOptions(PEER_GOOD));
      case 'RCR-':
        return this.packet(Code.CONFIGURE_REQUEST, 0x43, encodeOptions(PEER_BAD));
      case 'RCA':
        return this.packet(Code.CONFIGURE_ACK, this.lastRequestId, encodeOptions(OUR_OPTIONS));
      case 'RCN':
        return this.packet(
          Code.CONFIGURE_NAK,
          this.lastRequestId,
          encodeOptions([option(1, u16(1400))]),
        );
      case 'RTR':
        return this.packet(Code.TERMINATE_REQUEST, 0x50);
      case 'RTA':
        return this.packet(Code.TERMINATE_ACK, 0x51);
      case 'RUC':
        return this.packet(0x30, 0x52, Buffer.from([1, 2, 3]));
      case 'RXJ+':
        // Code-Reject of Echo-Request: survivable.
        return this.packet(Code.CODE_REJECT, 0x53, Buffer.from([Code.ECHO_REQUEST, 1, 0, 4]));
      case 'RXJ-':
        // Code-Reject of Configure-Request: catastrophic.
        return this.packet(Code.CODE_REJECT, 0x54, Buffer.from([Code.CONFIGURE_REQUEST, 1, 0, 4]));
      case 'RXR':
        return this.packet(Code.ECHO_REQUEST, 0x55, Buffer.from([0, 0, 0, 0]));
    }
  }

  /** Drive a fresh automaton into `state`; the restart counter ends > 0 unless `exhausted`. */
  reach(state: FsmState): void {
    const steps: Record<FsmState, FsmEvent[]> = {
      initial: [],
      starting: ['Open'],
      closed: ['Up'],
      stopped: ['Open', 'Up', 'RXJ-'],
      closing: ['Open', 'Up', 'Close'],
      stopping: ['Open', 'Up', 'Close', 'Open'],
      'req-sent': ['Open', 'Up'],
      'ack-rcvd': ['Open', 'Up', 'RCA'],
      'ack-sent': ['Open', 'Up', 'RCR+'],
      opened: ['Open', 'Up', 'RCR+', 'RCA'],
    };
    for (const e of steps[state]) this.fire(e);
    expect(this.fsm.state).toBe(state);
    this.actions.length = 0;
  }
}

function parseCell(cell: string, from: FsmState): { actions: string[]; next: FsmState } {
  if (cell === '-') return { actions: [], next: from };
  const [acts, next] = cell.includes('/') ? cell.split('/') : ['', cell];
  return {
    actions: (acts ?? '').split(',').filter((a) => a !== '' && a !== 'irc' && a !== 'zrc'),
    next: FSM_STATES[Number(next)]!,
  };
}

describe('RFC 1661 state transition table', () => {
  for (const [event, row] of Object.entries(TABLE) as [FsmEvent, string[]][]) {
    FSM_STATES.forEach((state, column) => {
      const cell = row[column]!;
      it(`${event} in ${state}: ${cell}`, () => {
        // TO- needs an exhausted restart counter: counters of 1 run out after one send.
        const exhausted = event === 'TO-';
        const h = new Harness(exhausted ? { maxConfigure: 0, maxTerminate: 1 } : {});
        h.reach(state);
        if ((event === 'TO+' || event === 'TO-') && h.fsm.timeout === undefined) {
          // No timer runs in this state: a timeout cannot happen ("-").
          expect(cell).toBe('-');
          return;
        }
        const expected = parseCell(cell, state);
        h.fire(event);
        expect(h.actions).toEqual(expected.actions);
        expect(h.fsm.state).toBe(expected.next);
      });
    });
  }
});

describe('restart timer and counters', () => {
  it('retransmitNow sends an unanswered Configure-Request at once, as TO+ would, in Req-Sent and Ack-Sent only', () => {
    for (const state of ['req-sent', 'ack-sent'] as const) {
      const h = new Harness();
      h.reach(state);
      h.now = 10;
      h.fsm.retransmitNow();
      expect(h.actions, state).toEqual(['scr']);
      expect(h.fsm.state).toBe(state);
      // The Restart timer runs again from now.
      expect(h.fsm.timeout).toBe(1010);
    }
    for (const state of ['closed', 'stopped', 'ack-rcvd', 'opened'] as const) {
      const h = new Harness();
      h.reach(state);
      h.fsm.retransmitNow();
      expect(h.actions, state).toEqual([]);
      expect(h.fsm.state).toBe(state);
    }
  });

  it('sends Max-Configure Configure-Requests, one per restart period, then finishes', () => {
    const h = new Harness({ maxConfigure: 4 });
    h.fire('Open');
    h.fire('Up');
    for (let i = 0; i < 10 && h.fsm.state !== 'stopped'; i++) h.fire('TO+');
    expect(h.actions).toEqual(['tls', 'scr', 'scr', 'scr', 'scr', 'tlf']);
    expect(h.now).toBe(4000);
  });

  it('sends Max-Terminate Terminate-Requests before finishing a close', () => {
    const h = new Harness({ maxTerminate: 3 });
    h.reach('opened');
    h.fire('Close');
    while (h.fsm.state === 'closing') h.fire('TO+');
    expect(h.actions).toEqual(['tld', 'str', 'str', 'str', 'tlf']);
    expect(h.fsm.state).toBe('closed');
  });

  it('waits one restart period in Stopping after a Terminate-Request (zrc)', () => {
    const h = new Harness();
    h.reach('opened');
    h.fire('RTR');
    expect(h.fsm.timeout).toBe(1000);
    h.fire('TO-');
    expect(h.actions).toEqual(['tld', 'sta', 'tlf']);
    expect(h.fsm.state).toBe('stopped');
  });

  it('turns Naks into Rejects after Max-Failure', () => {
    const h = new Harness({ maxFailure: 2 });
    h.reach('req-sent');
    h.fire('RCR-');
    h.fire('RCR-');
    h.fire('RCR-');
    expect(h.fsm.counters.naksSent).toBe(2);
    expect(h.fsm.counters.rejectsSent).toBe(1);
  });

  it('drops a Configure-Ack whose identifier does not match the request', () => {
    const h = new Harness();
    h.reach('req-sent');
    h.packet(Code.CONFIGURE_ACK, 0x99, encodeOptions(OUR_OPTIONS));
    expect(h.fsm.state).toBe('req-sent');
    expect(h.fsm.counters.discarded).toBe(1);
  });

  it('drops a Configure-Ack that does not repeat our options exactly', () => {
    const h = new Harness();
    h.reach('req-sent');
    h.packet(Code.CONFIGURE_ACK, 1, encodeOptions([option(1, u16(1400))]));
    expect(h.fsm.state).toBe('req-sent');
    expect(h.fsm.counters.discarded).toBe(1);
  });

  it('renegotiates on a second Ack for the same request (crossed connection)', () => {
    const h = new Harness();
    h.reach('req-sent');
    h.fire('RCA');
    h.fire('RCA');
    expect(h.fsm.state).toBe('req-sent');
    expect(h.actions).toEqual(['scr']);
  });
});
