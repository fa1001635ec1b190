#include "server/cli.h"

int main(int argc, char** argv) { return sluice::server::run_cli(argc, argv); }
