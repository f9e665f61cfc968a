// The only viem the mint page uses. build.mjs bundles exactly these (and what they import)
// into ../vendor/viem.min.js, which exposes them as one frozen global for mint.js.
import {
  BaseError,
  concat,
  createClient,
  custom,
  decodeErrorResult,
  defineChain,
  encodeAbiParameters,
  formatEther,
  getAddress,
  http,
  keccak256,
  numberToHex,
  parseEventLogs,
} from "viem";
// Actions one by one rather than createPublicClient/createWalletClient, whose decorators
// would pull every action of viem into the page.
import {
  getBalance,
  getBlock,
  getChainId,
  readContract,
  simulateContract,
  waitForTransactionReceipt,
  writeContract,
} from "viem/actions";

globalThis.RobozViem = Object.freeze({
  BaseError,
  concat,
  createClient,
  custom,
  decodeErrorResult,
  defineChain,
  encodeAbiParameters,
  formatEther,
  getAddress,
  http,
  keccak256,
  numberToHex,
  parseEventLogs,
  getBalance,
  getBlock,
  getChainId,
  readContract,
  simulateContract,
  waitForTransactionReceipt,
  writeContract,
});
