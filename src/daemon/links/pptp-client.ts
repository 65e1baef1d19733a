/** A PPTP client link: the branch dialling head office over broadband. */
import { dialPptp } from '../../pptp/pac.js';
import type { PppLink } from '../../runtime/link.js';
import type { PptpClientLinkConfig } from '../config.js';
import { DialingRunner } from './runner.js';
import type { LinkHost } from './session-host.js';

export class PptpClientRunner extends DialingRunner {
  protected readonly async = false;
  protected readonly endpoint: string;

  constructor(
    override readonly config: PptpClientLinkConfig,
    host: LinkHost,
  ) {
    super(config, host);
    this.endpoint = `${config.server}:${config.port}`;
  }

  protected connect(signal: AbortSignal): Promise<PppLink> {
    const log = this.host.log.child({ link: this.config.name, pptp: this.endpoint });
    return dialPptp({
      server: this.config.server,
      port: this.config.port,
      signal,
      log: {
        // With ppp.debug the control-message trace shows at the default level, as PPP's does.
        debug: (m: string) => (this.config.ppp.debug ? log.info(m) : log.debug(m)),
        info: (m: string) => log.info(m),
        warn: (m: string) => log.warn(m),
      },
      trace: this.config.ppp.debug,
    });
  }
}
