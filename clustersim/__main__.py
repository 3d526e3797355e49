from clustersim.cli.app import main

main()
