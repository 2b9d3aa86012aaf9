// @koa/multer ships no types: it wraps multer's middleware factories in Koa middleware.
declare module '@koa/multer' {
  import type { Middleware } from 'koa';
  import type { Field, Options } from 'multer';
  import type multer from 'multer';
  interface KoaMulter {
    fields(fields: readonly Field[]): Middleware;
    single(name: string): Middleware;
    any(): Middleware;
    none(): Middleware;
  }
  function koaMulter(options?: Options): KoaMulter;
  namespace koaMulter {
    const memoryStorage: typeof multer.memoryStorage;
    const diskStorage: typeof multer.diskStorage;
  }
  export default koaMulter;
}
