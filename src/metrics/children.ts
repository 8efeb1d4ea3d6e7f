// A metric's children by their label values, each made once. prom-client's labels() builds,
// validates and names a fresh label object on every call; on the request path a child is instead
// found by up to four plain Map lookups on strings the gateway already holds.

export class Children<T> {
  readonly #root = new Map<string, Map<string, Map<string, Map<string, T>>>>();
  readonly #make: (a: string, b: string, c: string, d: string) => T;

  constructor(make: (a: string, b: string, c: string, d: string) => T) {
    this.#make = make;
  }

  get(a: string, b = '', c = '', d = ''): T {
    let byA = this.#root.get(a);
    if (byA === undefined) this.#root.set(a, (byA = new Map()));
    let byB = byA.get(b);
    if (byB === undefined) byA.set(b, (byB = new Map()));
    let byC = byB.get(c);
    if (byC === undefined) byB.set(c, (byC = new Map()));
    let child = byC.get(d);
    if (child === undefined) byC.set(d, (child = this.#make(a, b, c, d)));
    return child;
  }
}
