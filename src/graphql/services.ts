import type { Context } from './context';
import { OrganisationService } from '../modules/organisations/organisation.service';
import { DirectoryService } from '../modules/directory/directory.service';
import { ChannelService } from '../modules/channels/channel.service';
import { MessageService } from '../modules/messages/message.service';
import { ReadStateService } from '../modules/messages/read-state.service';
import { ChannelEventService } from '../realtime/channel-events.service';
import { InboxEventService } from '../realtime/inbox-events.service';
import { TypingService } from '../realtime/typing.service';

export function createServices(context: Context) {
  return {
    organisations: new OrganisationService(context),
    directory: new DirectoryService(context),
    channels: new ChannelService(context),
    messages: new MessageService(context),
    readState: new ReadStateService(context),
    channelEvents: new ChannelEventService(context),
    inboxEvents: new InboxEventService(context),
    typing: new TypingService(context),
  };
}

export type Services = ReturnType<typeof createServices>;
