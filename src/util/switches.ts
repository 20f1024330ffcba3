/**
 * MCPX_FASTPATH=0: every request takes the SDK path (Server and Client), and initialize is answered by
 * the SDK Server too. A debugging switch; read once, as process.env is slow to read per call.
 */
const FASTPATH = process.env.MCPX_FASTPATH !== '0';
export const fastPathEnabled = (): boolean => FASTPATH;
