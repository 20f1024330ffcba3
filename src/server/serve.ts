// Placeholder replaced by the serve implementation in the next commit.
export async function serve(_opts: { configFlag?: string }): Promise<void> {
  throw new Error('serve is not built yet');
}
