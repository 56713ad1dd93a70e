package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// benchScale: publishing on PostgreSQL + S3 (versitygw) next to SQLite +
// file, in the same run: a first publish of -full RPMs (target within 2×
// the SQLite + file figure) and adding one package to a repository of -big
// (target under 2 s).
func benchScale() {
	fmt.Printf("\n== PostgreSQL + S3 (versitygw) against SQLite + file: first publish of %d, then +1 to %d ==\n", *full, *big)
	pgURL := startPostgres()
	s3url, s3env := startS3()
	dir := fullRPMs()
	n := min(*runs, 3)
	var local, scaled []time.Duration
	for i := 0; i < n; i++ {
		data := newData(fmt.Sprintf("scale-local-%d", i))
		admin(data, "product", "add", "b", "--name", "bench", "--format", "rpm")
		admin(data, "repo", "add", "b", "--product", "b")
		local = append(local, timed(func() { admin(data, "publish", "b", dir) }))
		os.RemoveAll(data)

		db := fmt.Sprintf("%s/scale%d?sslmode=disable", pgURL, i)
		sh("sh", "-c", fmt.Sprintf("runuser -u postgres -- %s/psql -q -h 127.0.0.1 -p %s -c 'CREATE DATABASE scale%d' postgres", pgBin, pgPort, i))
		env := append(append([]string{}, s3env...), "ENMEI_DB="+db, "ENMEI_BLOBS="+s3url(fmt.Sprintf("scale%d", i)))
		sdata := newData(fmt.Sprintf("scale-s3-%d", i))
		adminEnv(sdata, env, "product", "add", "b", "--name", "bench", "--format", "rpm")
		adminEnv(sdata, env, "repo", "add", "b", "--product", "b")
		scaled = append(scaled, timed(func() { adminEnv(sdata, env, "publish", "b", dir) }))
	}
	report("PostgreSQL + S3: first publish", scaled, "SQLite + file: first publish", local)
	fmt.Printf("ratio PostgreSQL+S3 / SQLite+file: %.2f (target ≤ 2)\n", float64(median(scaled))/float64(median(local)))

	bigDir := filepath.Join(*work, "big-rpms")
	genRPMs(bigDir, *big, 0)
	extra := genRPMs(filepath.Join(*work, "scale-extra-rpms"), *runs, *big+1000)
	sh("sh", "-c", fmt.Sprintf("runuser -u postgres -- %s/psql -q -h 127.0.0.1 -p %s -c 'CREATE DATABASE scalebig' postgres", pgBin, pgPort))
	env := append(append([]string{}, s3env...), "ENMEI_DB="+pgURL+"/scalebig?sslmode=disable", "ENMEI_BLOBS="+s3url("scalebig"))
	data := newData("scale-big")
	adminEnv(data, env, "product", "add", "b", "--name", "bench", "--format", "rpm")
	adminEnv(data, env, "repo", "add", "b", "--product", "b")
	fmt.Printf("initial publish of %d on PostgreSQL + S3: %v\n", *big, timed(func() { adminEnv(data, env, "publish", "b", bigDir) }).Round(time.Millisecond))
	var add []time.Duration
	for i := 0; i < *runs; i++ {
		add = append(add, timed(func() { adminEnv(data, env, "publish", "b", extra[i]) }))
	}
	fmt.Printf("%-40s median %v  (runs %v; target under 2s)\n", "PostgreSQL + S3: +1 to "+strconv.Itoa(*big), median(add).Round(time.Millisecond), roundD(add))
}

const pgBin = "/usr/lib/postgresql/15/bin"

var pgPort string

// startPostgres runs a throw-away PostgreSQL 15 cluster as the postgres
// user and returns its base URL (postgres://postgres@127.0.0.1:PORT).
func startPostgres() string {
	dir, err := os.MkdirTemp("", "enmei-bench-pg-")
	check(err)
	u, err := user.Lookup("postgres")
	check(err)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	check(os.Chown(dir, uid, gid))
	data := filepath.Join(dir, "data")
	sh("runuser", "-u", "postgres", "--", pgBin+"/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	pgPort = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %s -k %s -c max_connections=200", pgPort, dir)
	sh("runuser", "-u", "postgres", "--", pgBin+"/pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start")
	atExit = append(atExit, func() {
		exec.Command("runuser", "-u", "postgres", "--", pgBin+"/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(dir)
	})
	return "postgres://postgres@127.0.0.1:" + pgPort
}
