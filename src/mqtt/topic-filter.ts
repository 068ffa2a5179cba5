/**
 * MQTT topic names and topic filters (MQTT 3.1.1 §4.7, MQTT 5 §4.7 and §4.8.2 for `$share`).
 * Validation returns the reason a string is not acceptable, or undefined when it is.
 */

export const MAX_TOPIC_BYTES = 65_535;
const SHARE_PREFIX = '$share/';

/** Lone surrogates cannot be encoded as UTF-8, and MQTT forbids U+0000 and the surrogate range. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkString(text: string, what: string): string | undefined {
  if (text.includes('\u0000')) return `${what} must not contain the NUL character (U+0000)`;
  if (LONE_SURROGATE.test(text)) return `${what} must be valid UTF-8 (it contains a lone surrogate)`;
  return topicLengthProblem(text, what);
}

/** Why `text` is empty or longer than MQTT allows, or undefined. UTF-8 bytes are counted only when there could be too many. */
export function topicLengthProblem(text: string, what: string): string | undefined {
  if (text.length === 0) return `${what} must not be empty`;
  // A UTF-16 code unit is at most 3 bytes of UTF-8.
  if (text.length * 3 <= MAX_TOPIC_BYTES) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > MAX_TOPIC_BYTES ? `${what} is ${bytes} bytes of UTF-8; at most ${MAX_TOPIC_BYTES} are allowed` : undefined;
}

/** The reason `filter` is not a valid topic filter (shared-subscription form included), or undefined. */
export function topicFilterProblem(filter: string): string | undefined {
  const basic = checkString(filter, 'a topic filter');
  if (basic !== undefined) return basic;
  const shared = splitSharedSubscription(filter);
  if (shared !== undefined) {
    if (typeof shared === 'string') return shared;
    return levelsProblem(shared.filter);
  }
  return levelsProblem(filter);
}

function levelsProblem(filter: string): string | undefined {
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return '"#" must be the last level of a topic filter and alone in its level (e.g. "plant/#")';
    }
    if (level.includes('+') && level !== '+') {
      return '"+" must be alone in its level (e.g. "plant/+/temperature")';
    }
  }
  return undefined;
}

/**
 * For `$share/<group>/<filter>`: the group and the filter, or the reason the form is wrong.
 * Undefined when `filter` is not a shared subscription.
 */
export function splitSharedSubscription(filter: string): { group: string; filter: string } | string | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return filter === '$share' ? 'a shared subscription is written $share/<group>/<filter>' : undefined;
  const rest = filter.slice(SHARE_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash === -1) return 'a shared subscription is written $share/<group>/<filter>';
  const group = rest.slice(0, slash);
  const inner = rest.slice(slash + 1);
  const groupIssue = shareGroupProblem(group);
  if (groupIssue !== undefined) return groupIssue;
  if (inner.length === 0) return 'a shared subscription needs a topic filter after $share/<group>/';
  return { group, filter: inner };
}

/** The reason `group` cannot name a shared-subscription group, or undefined. */
export function shareGroupProblem(group: string): string | undefined {
  if (group.length === 0) return 'a shared subscription group must not be empty';
  if (/[/+#]/.test(group)) return 'a shared subscription group must not contain "/", "+" or "#"';
  return checkString(group, 'a shared subscription group');
}

/** The reason `topic` cannot be published to, or undefined. */
export function topicNameProblem(topic: string): string | undefined {
  const basic = checkString(topic, 'a topic');
  if (basic !== undefined) return basic;
  if (/[+#]/.test(topic)) return 'a topic to publish to must not contain the wildcards "+" or "#"';
  return undefined;
}

/**
 * Does `topic` match `filter`? `#` also matches the parent level ("a/#" matches "a"), and filters
 * starting with a wildcard do not match topics starting with `$` (§4.7.2).
 */
export function topicMatches(filter: string, topic: string): boolean {
  const shared = splitSharedSubscription(filter);
  const plain = shared !== undefined && typeof shared !== 'string' ? shared.filter : filter;
  if (topic.startsWith('$') && (plain.startsWith('+') || plain.startsWith('#'))) return false;
  const f = plain.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * The values `filter`'s wildcards matched in `topic`: one per `+`, in order, then what `#` matched
 * as one string ("" when it matched the parent level). Undefined when the filter does not match.
 */
export function wildcardValues(filter: string, topic: string): string[] | undefined {
  return wildcardMatcher(filter)(topic);
}

/**
 * `wildcardValues` for one filter, with the filter split once: a trigger calls it per message.
 * A filter without wildcards matches only its own topic and yields no values.
 */
export function wildcardMatcher(filter: string): (topic: string) => string[] | undefined {
  const shared = splitSharedSubscription(filter);
  const plain = shared !== undefined && typeof shared !== 'string' ? shared.filter : filter;
  if (!plain.includes('+') && !plain.includes('#')) return (topic) => (topic === plain ? [] : undefined);
  const f = plain.split('/');
  const dollarBlocked = plain.startsWith('+') || plain.startsWith('#');
  return (topic) => {
    if (dollarBlocked && topic.startsWith('$')) return undefined;
    const t = topic.split('/');
    const values: string[] = [];
    for (let i = 0; i < f.length; i++) {
      const level = f[i];
      if (level === '#') {
        values.push(t.slice(i).join('/'));
        return values;
      }
      if (i >= t.length) return undefined;
      if (level === '+') values.push(t[i]!);
      else if (level !== t[i]) return undefined;
    }
    return f.length === t.length ? values : undefined;
  };
}
