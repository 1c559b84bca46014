package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/dooros/dooros/doorsync/exposuresim"
)

// runSimulate is `dooros simulate exposure`: the revocation exposure
// simulation of issue 11 (doorsync/exposuresim), printed as a Markdown
// table. It touches no database.
func runSimulate(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "exposure" {
		fmt.Fprintln(stderr, "usage: dooros simulate exposure [--seed N] [--residents N] [--revocations N]")
		return errors.New("simulate: the only simulation is exposure")
	}
	fs := flag.NewFlagSet("simulate exposure", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same table")
	cfg := exposuresim.Default(0)
	fs.IntVar(&cfg.Residents, "residents", cfg.Residents, "residents of the property")
	fs.IntVar(&cfg.Units, "units", cfg.Units, "unit doors")
	fs.IntVar(&cfg.Revocations, "revocations", cfg.Revocations, "revocations simulated")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("simulate exposure: unexpected argument %q", fs.Arg(0))
	}
	if cfg.Residents < 2 || cfg.Units < 1 || cfg.Revocations < 1 {
		return errors.New("simulate exposure: --residents must be at least 2, --units and --revocations at least 1")
	}
	cfg.Seed = *seed
	res := exposuresim.Run(cfg)
	fmt.Fprintf(stdout, "Exposure simulation, seed %d: %d residents, %d units (%d a floor), %d entrances, %d amenities, %d revocations over %d days;\n"+
		"unlocks a resident a day: %.1f entrance, %.1f amenity, %.1f unit; staff round daily at %02d:00; credential lifetime %v.\n"+
		"Hours from a revocation until every door of the class refuses the revoked person (doorcode included):\n\n",
		cfg.Seed, cfg.Residents, cfg.Units, cfg.UnitsPerFloor, cfg.Entrances, cfg.Amenities, cfg.Revocations, cfg.Days,
		cfg.EntrancePerDay, cfg.AmenityPerDay, cfg.UnitPerDay, cfg.StaffRoundHour, cfg.CredentialLifetime)
	fmt.Fprint(stdout, res.Table())
	if !res.BoundHolds {
		return errors.New("simulate exposure: a revoked phone outlived its credential lifetime")
	}
	return nil
}
