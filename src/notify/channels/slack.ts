import { Notification } from '../notification';
import { slackBody } from '../templates';
import { Channel, postJson } from './channel';

/** Slack incoming webhook: POST JSON {text, blocks}; Slack answers 200 "ok". */
export class SlackChannel implements Channel {
  readonly name = 'slack' as const;
  constructor(private readonly webhookUrl: string, private readonly timeoutMs: number) {}
  get configured() {
    return this.webhookUrl !== '';
  }
  send(n: Notification) {
    return postJson('slack', this.webhookUrl, slackBody(n), this.timeoutMs);
  }
}
