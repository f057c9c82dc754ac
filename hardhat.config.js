// Keel's local EVM node (`keel testbed up`, tests marked `hardhat`).
// Runs OFFLINE: Keel deploys the npm artifacts' bytecode, so no Solidity compiler is ever
// configured or downloaded.  Chain id 31337, instant mining, the default dev accounts.
module.exports = {
  defaultNetwork: "hardhat",
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      allowUnlimitedContractSize: false,
      mining: { auto: true, interval: 0 },
      initialBaseFeePerGas: 1000000000,
      loggingEnabled: false,
      // Like a real node: a reverting transaction is mined with status 0, not turned into an RPC error.
      throwOnTransactionFailures: false,
      throwOnCallFailures: true,
    },
  },
  paths: { cache: ".testbed/hardhat-cache", artifacts: ".testbed/hardhat-artifacts" },
};
