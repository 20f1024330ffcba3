import type { Command } from 'commander';

interface LoginFlags {
  config?: string;
  browser?: boolean;
  list?: boolean;
  json?: boolean;
  color?: boolean;
}

export function registerLogin(program: Command): Command {
  program
    .command('logout')
    .description('forget the OAuth tokens of a remote server (revoked at the server where it offers revocation)')
    .argument('<server>', 'the server to sign out of')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--json', 'print the result as JSON')
    .action(async (server: string, flags: LoginFlags) => {
      const { logoutServer } = await import('../../app/login.js');
      const r = await logoutServer({ config: flags.config, server });
      if (flags.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else process.stdout.write(r.signedOut ? `signed out of ${server}${r.revoked ? ' (revoked at the server)' : ''}\n` : `${server} was not signed in\n`);
    });
  return program
    .command('login')
    .description('sign in to a remote server with OAuth (tokens kept in the state directory), or --list the sign-ins')
    .argument('[server]', 'the remote server to sign in to')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--no-browser', 'print the authorization URL instead of opening a browser')
    .option('--list', 'show each OAuth server: signed in or not, scopes, when its access token expires')
    .option('--json', 'print the result as JSON')
    .option('--no-color', 'no colours (also: NO_COLOR=1)')
    .action(async (server: string | undefined, flags: LoginFlags) => {
      const { listSignIns, loginServer } = await import('../../app/login.js');
      const { colours } = await import('../style.js');
      const c = colours(process.stdout, flags);
      if (flags.list || server === undefined) {
        const list = await listSignIns({ config: flags.config });
        if (flags.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        if (!list.servers.length) return void process.stdout.write('no server uses OAuth in this config\n');
        for (const s of list.servers) {
          const state = s.signedIn ? c.green('signed in') : c.red(`not signed in${s.lost ? ` (${s.lost})` : ''}: run \`mcpx login ${s.server}\``);
          const extra = [s.grant === 'client_credentials' ? 'client credentials' : undefined, s.scopes?.length ? `scopes ${s.scopes.join(' ')}` : undefined, s.expiresAt ? `token expires ${s.expiresAt}` : undefined];
          process.stdout.write(`${c.bold(s.server)}  ${state}${extra.filter(Boolean).map((x) => c.dim(`  ${x}`)).join('')}\n`);
        }
        return;
      }
      // The URL goes to stderr on a line of its own: stdout stays for the result (--json).
      const r = await loginServer({ config: flags.config, server, browser: flags.browser !== false, say: (line) => process.stderr.write(line + '\n') });
      if (flags.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else {
        const restarted = r.restartedIn ? `; restarted in ${r.restartedIn} running serve${r.restartedIn > 1 ? 's' : ''}` : '';
        process.stdout.write(`signed in to ${r.server}${r.scopes?.length ? ` (scopes ${r.scopes.join(' ')})` : ''}${r.expiresAt ? `; the access token expires ${r.expiresAt} and is refreshed on its own` : ''}${restarted}\n`);
      }
    });
}
