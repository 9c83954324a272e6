/** Where a `kiln serve` page keeps its token in sessionStorage: the page writes it, the server's 401 page reads it. */
export const SESSION_TOKEN_KEY = 'kiln.token';
