import MarkdownIt from 'markdown-it';

/**
 * Message bodies are stored as written (markdown). This renders them for clients that want
 * HTML: raw HTML in a body is shown as text, only http(s), mailto and tel links survive
 * (markdown-it refuses javascript:, vbscript:, file: and data:), bare addresses become links,
 * and images are not rendered (a remote image would tell its host who read the message).
 */
const markdown = new MarkdownIt({ html: false, linkify: true, breaks: true }).disable('image');

const SAFE_SCHEMES = /^(https?:|mailto:|tel:)/i;
markdown.validateLink = (url) => SAFE_SCHEMES.test(url.trim());

const defaultLinkOpen = markdown.renderer.rules.link_open ?? ((tokens, index, options, _env, self) => self.renderToken(tokens, index, options));
markdown.renderer.rules.link_open = (tokens, index, options, env, self) => {
  tokens[index].attrSet('rel', 'noopener noreferrer nofollow');
  tokens[index].attrSet('target', '_blank');
  return defaultLinkOpen(tokens, index, options, env, self);
};

export function renderMarkdown(body: string): string {
  return markdown.render(body);
}

/** The links in a body, explicit and bare, in order of appearance, each once. */
export function extractLinks(body: string): string[] {
  const links: string[] = [];
  const visit = (tokens: ReturnType<typeof markdown.parse>) => {
    for (const token of tokens) {
      if (token.type === 'link_open') {
        const href = token.attrGet('href');
        if (typeof href === 'string' && !links.includes(href)) links.push(href);
      }
      if (token.children) visit(token.children);
    }
  };
  visit(markdown.parse(body, {}));
  return links;
}
