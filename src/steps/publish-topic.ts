/**
 * The topic of a publish step, rendered from its template: a message cannot choose where its
 * outputs go (docs/architecture.md, invariant 32). The text of each `{{ }}` part fills one topic
 * level, so a payload cannot add levels (`a/../../b`), reach another prefix, publish to a `$` topic
 * (`$SYS/…`) or slip in a wildcard or a NUL. Only the rendered values are checked, as they are
 * rendered: the literal text was checked when the flow was loaded, and a template without `{{ }}`
 * parts is not checked per message at all.
 */
import type { Template, TemplatePart } from '../expr/template.js';
import { topicLengthProblem } from '../mqtt/topic-filter.js';
import { MessageFailure } from '../pipeline/execution.js';
import type { StepHeader } from '../pipeline/step.js';

/** How many topic levels the text of one `{{ }}` part may fill: `one` (the default) or `any`. */
export type TopicLevels = 'one' | 'any';

export const TOPIC_LEVELS: readonly TopicLevels[] = ['one', 'any'];

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const NUL = 0x00;
const DOLLAR = 0x24;

const WILDCARD = 'which a topic to publish to must not contain; no setting allows it: check the value before it is published (a validate or filter step)';

/**
 * Why `text`, the value of a `{{ }}` part of a publish topic, cannot be published, or undefined.
 * `atStart`: nothing was rendered before it, so its first character starts the topic (a template
 * whose literal text starts with `$` never renders a value there). One pass over the characters,
 * nothing allocated unless there is a problem.
 */
export function topicValueProblem(text: string, atStart: boolean, levels: TopicLevels): string | undefined {
  if (atStart && text.charCodeAt(0) === DOLLAR) {
    return 'would start the topic with "$", which only a topic whose literal text starts with "$" may do (e.g. "$aws/things/{{ device }}"); a value never chooses a "$" topic';
  }
  const oneLevel = levels === 'one';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Every character that matters is at or below "/" or a surrogate: the rest costs one comparison or two.
    if (c > SLASH && (c < 0xd800 || c > 0xdfff)) continue;
    if (c === SLASH) {
      if (oneLevel) return 'contains "/", so it would fill more than one topic level; give the publish topicLevels: any if its values may span levels';
    } else if (c === PLUS) {
      return `contains "+", a wildcard, ${WILDCARD}`;
    } else if (c === HASH) {
      return `contains "#", a wildcard, ${WILDCARD}`;
    } else if (c === NUL) {
      return 'contains the NUL character (U+0000), which a topic must not contain; no setting allows it';
    } else if (c >= 0xd800) {
      // A high surrogate followed by a low one is one character; anything else cannot be UTF-8.
      const next = text.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return 'contains a lone surrogate, which is not valid UTF-8; no setting allows it';
      i++;
    }
  }
  return undefined;
}

/**
 * Why a topic rendered from values that passed `topicValueProblem` cannot be published: it is
 * empty or too long. (Wildcards, NUL and lone surrogates cannot be in it: the values were
 * checked, the literal text when the flow was loaded.)
 */
export function renderedTopicProblem(topic: string): string | undefined {
  return topicLengthProblem(topic, 'a topic');
}

/** `text` as a JSON string, shortened past `max` characters. */
export function shortQuote(text: string, max = 60): string {
  return text.length <= max ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, max))}…`;
}

/** `{{ expression }}` as written, on one line and shortened. */
function partName(part: TemplatePart): string {
  const source = part.text.trim().replace(/\s+/g, ' ');
  return `{{ ${source.length <= 60 ? source : `${source.slice(0, 60)}…`} }}`;
}

/** The message of a value that fails `topicValueProblem`. */
export function topicValueMessage(part: TemplatePart, text: string, problem: string): string {
  return `the value of ${partName(part)} (${shortQuote(text)}) ${problem}`;
}

/**
 * `template` with every `{{ }}` value checked as it is rendered: a bad one fails the message with
 * `MQFLOW_PUBLISH_TOPIC`. A template without `{{ }}` parts comes back as it is.
 */
export function checkedTopic(template: Template, levels: TopicLevels, step: StepHeader): Template {
  return template.checked((text, part, offset) => {
    const problem = topicValueProblem(text, offset === 0, levels);
    if (problem !== undefined) {
      throw new MessageFailure(`${step.path}: not published: ${topicValueMessage(part, text, problem)}`, 'MQFLOW_PUBLISH_TOPIC', { path: step.path, at: step.at });
    }
  });
}
