/**
 * Gossipsub forwards only topics a node subscribes to, and the relay cannot know room ids in
 * advance: it subscribes to a room's topic as soon as one of its peers does (gossipsub's
 * `subscription-change`), and drops topics nobody subscribes to any more every `sweepMs`.
 * Only topics under the room prefix whose room id is valid are followed, at most `maxTopics`.
 */
import type { GossipSub, SubscriptionChangeData } from '@libp2p/gossipsub';
import { ROOM_ID_PATTERN } from '../libp2p/names.ts';

export class RoomTopicFollower {
  private readonly followed = new Set<string>();
  private sweepTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param pubsub The relay's gossipsub.
   * @param prefix Room topic prefix (ROOM_TOPIC_PREFIX).
   * @param maxTopics Most room topics followed at once.
   * @param sweepMs Interval of the unused-topic sweep, ms.
   */
  constructor(
    private readonly pubsub: GossipSub,
    private readonly prefix: string,
    private readonly maxTopics: number,
    private readonly sweepMs = 30_000,
  ) {}

  /** Number of room topics followed now. */
  get count(): number {
    return this.followed.size;
  }

  start(): void {
    this.pubsub.addEventListener('subscription-change', this.onChange);
    this.sweepTimer = setInterval(() => this.sweep(), this.sweepMs);
  }

  stop(): void {
    this.pubsub.removeEventListener('subscription-change', this.onChange);
    clearInterval(this.sweepTimer);
    this.followed.clear();
  }

  private readonly onChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    for (const { topic, subscribe } of event.detail.subscriptions) {
      if (!subscribe || this.followed.has(topic) || !topic.startsWith(this.prefix)) continue;
      if (!ROOM_ID_PATTERN.test(topic.slice(this.prefix.length)) || this.followed.size >= this.maxTopics) continue;
      this.followed.add(topic);
      this.pubsub.subscribe(topic);
    }
  };

  private sweep(): void {
    for (const topic of this.followed) {
      if (this.pubsub.getSubscribers(topic).length === 0) {
        this.followed.delete(topic);
        this.pubsub.unsubscribe(topic);
      }
    }
  }
}
