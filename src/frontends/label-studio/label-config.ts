/**
 * The names a Label Studio project's label config (its XML) gives the controls a classification
 * fills: the `<Choices name toName>` whose `toName` is an `<Image name value="$key">`, and the
 * task data key of that image. A small reader of start tags and attributes, not an XML parser:
 * the label config is Label Studio's own, and only these three tags are read from it.
 */

/** What a prediction's result and a task's image are named in the project. */
export interface ChoicesControl {
  /** The `<Choices name>`: the result's `from_name`. */
  readonly fromName: string;
  /** The `<Image name>` it labels: the result's `to_name`. */
  readonly toName: string;
  /** The task data key of the image (`image` for `value="$image"`). */
  readonly dataKey: string;
  /** The `<Choice value>`s of the control, in order. */
  readonly choices: readonly string[];
}

/** A start tag (or an empty-element tag) of `name`, its attributes in group 1 (values quoted). */
const startTag = (name: string): RegExp =>
  new RegExp(`<${name}((?:\\s+[A-Za-z_:][\\w:.-]*\\s*=\\s*(?:"[^"]*"|'[^']*'))*)\\s*(/?)>`, 'gi');
const attribute = /([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const entity = /&(?:#x([0-9a-f]+)|#([0-9]+)|(lt|gt|amp|quot|apos));/gi;
const named: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** XML's predefined entities and character references (XML 1.0 §4.6, §4.1). */
function unescape(value: string): string {
  return value.replace(entity, (whole, hex?: string, dec?: string, name?: string) => {
    const code = hex !== undefined ? Number.parseInt(hex, 16) : dec !== undefined ? Number(dec) : undefined;
    if (code !== undefined) return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    return named[name!.toLowerCase()] ?? whole;
  });
}

/** The attributes of a tag's attribute text, by name. */
function attributesOf(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of text.matchAll(attribute)) found.set(m[1]!, unescape(m[2] ?? m[3] ?? ''));
  return found;
}

interface Tag {
  readonly attributes: Map<string, string>;
  /** Where the tag ends in the config, and whether it is an empty-element tag. */
  readonly end: number;
  readonly empty: boolean;
}

function tagsOf(xml: string, name: string): Tag[] {
  return [...xml.matchAll(startTag(name))].map((m) => ({
    attributes: attributesOf(m[1] ?? ''),
    end: m.index + m[0].length,
    empty: m[2] === '/',
  }));
}

/**
 * The classification control of `config`: the first `<Choices>` that names an `<Image>` in its
 * `toName` (a comma-separated list), with that image's data key; `undefined` when there is none.
 */
export function choicesControl(config: string): ChoicesControl | undefined {
  // Comments may hold tags that are not the project's.
  const xml = config.replace(/<!--[\s\S]*?-->/g, '');
  const images = new Map<string, string>();
  for (const image of tagsOf(xml, 'Image')) {
    const name = image.attributes.get('name');
    const value = image.attributes.get('value');
    if (name && value?.startsWith('$') && value.length > 1) images.set(name, value.slice(1));
  }
  for (const control of tagsOf(xml, 'Choices')) {
    const fromName = control.attributes.get('name');
    const toName = (control.attributes.get('toName') ?? '').split(',').map((n) => n.trim()).find((n) => images.has(n));
    if (!fromName || toName === undefined) continue;
    const close = control.empty ? control.end : xml.slice(control.end).search(/<\/Choices\s*>/i);
    const inner = control.empty || close < 0 ? '' : xml.slice(control.end, control.end + close);
    const choices = tagsOf(inner, 'Choice').map((c) => c.attributes.get('value')).filter((v): v is string => v !== undefined);
    return { fromName, toName, dataKey: images.get(toName)!, choices };
  }
  return undefined;
}

/** The project's choice for a model's `label` (Label Studio's spelling of it), or the label itself. */
export function choiceFor(control: ChoicesControl, label: string): string {
  return control.choices.find((c) => c.toLowerCase() === label.toLowerCase()) ?? label;
}
