/**
 * Text templates: literal text with `{{ expression }}` parts, used for publish topics, user
 * properties and log messages. A template without `{{` is a plain literal and costs nothing per message.
 */
import type { Bindings, Expression } from './expression.js';

export interface TemplatePart {
  /** Literal text, or the source of an embedded expression. */
  readonly text: string;
  readonly isExpression: boolean;
  /** 0-based offset of `text` inside the template. */
  readonly offset: number;
}

export interface Template {
  readonly source: string;
  /** The whole text when the template has no expressions. */
  readonly literal: string | undefined;
  readonly parts: readonly TemplatePart[];
  /** False when no part names a variable (`$name`): its caller need not build bindings. */
  readonly readsVariables: boolean;
  render(input: unknown, bindings?: Bindings): Promise<string>;
  /** The same rendering without a promise hop when every part completes synchronously (see Expression.run). */
  run(input: unknown, bindings?: Bindings): string | Promise<string>;
  /**
   * The same template, calling `check` with the text of each `{{ }}` part as it is rendered (and
   * the number of characters rendered before it); what `check` throws fails the rendering, and a
   * text it returns replaces the part's (an encoding). The literal text is not passed to it. A
   * template without `{{ }}` parts is returned as it is.
   */
  checked(check: PartCheck): Template;
}

/** Sees the text one `{{ }}` part rendered, before it joins the result; throws to refuse it, or returns the text to use instead. */
export type PartCheck = (text: string, part: TemplatePart, offset: number) => string | void;

/** Splits a template into parts; returns the reason when a `{{` is not closed. */
export function splitTemplate(source: string): TemplatePart[] | { problem: string; offset: number } {
  const parts: TemplatePart[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf('{{', at);
    if (open === -1) {
      parts.push({ text: source.slice(at), isExpression: false, offset: at });
      break;
    }
    if (open > at) parts.push({ text: source.slice(at, open), isExpression: false, offset: at });
    const close = source.indexOf('}}', open + 2);
    if (close === -1) return { problem: '"{{" is not closed by "}}"', offset: open };
    const inner = source.slice(open + 2, close);
    if (inner.trim() === '') return { problem: '"{{ }}" holds no expression', offset: open };
    parts.push({ text: inner, isExpression: true, offset: open + 2 });
    at = close + 2;
  }
  return parts;
}

/**
 * Builds a template from parts split already; `compilePart` compiles each expression part once
 * (and reports its syntax errors). Undefined when any part did not compile; every part is tried.
 */
export function compileTemplate(source: string, parts: readonly TemplatePart[], compilePart: (part: TemplatePart) => Expression | undefined): Template | undefined {
  const compiled: (string | Expression | undefined)[] = parts.map((p) => (p.isExpression ? compilePart(p) : p.text));
  if (compiled.includes(undefined)) return undefined;
  return fromCompiled(source, parts, compiled as (string | Expression)[]);
}

function fromCompiled(source: string, parts: readonly TemplatePart[], compiled: readonly (string | Expression)[], check?: PartCheck): Template {
  const literal = compiled.every((p) => typeof p === 'string') ? compiled.join('') : undefined;
  /** The text of expression part `i`, checked when there is a check. */
  const valueText = (value: unknown, i: number, out: string): string => {
    const text = renderValue(value);
    if (check === undefined) return text;
    return check(text, parts[i]!, out.length) ?? text;
  };
  /** Renders from part `from` on, appending to `out`; goes asynchronous at the first part that must wait. */
  const renderFrom = (input: unknown, bindings: Bindings | undefined, from: number, out: string): string | Promise<string> => {
    for (let i = from; i < compiled.length; i++) {
      const part = compiled[i]!;
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const value = part.run(input, bindings);
      if (value instanceof Promise) return value.then((v) => renderFrom(input, bindings, i + 1, out + valueText(v, i, out)));
      out += valueText(value, i, out);
    }
    return out;
  };
  const template: Template = {
    source,
    literal,
    parts,
    readsVariables: compiled.some((p) => typeof p !== 'string' && p.readsVariables !== false),
    run: (input, bindings) => (literal !== undefined ? literal : renderFrom(input, bindings, 0, '')),
    async render(input: unknown, bindings?: Bindings): Promise<string> {
      return literal !== undefined ? literal : renderFrom(input, bindings, 0, '');
    },
    checked: (next) => (literal !== undefined ? template : fromCompiled(source, parts, compiled, next)),
  };
  return template;
}

function renderValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
