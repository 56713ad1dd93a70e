#!/bin/sh
# Regenerates the Pacemaker CIB fixtures with the installed Pacemaker tools
# (Debian's pacemaker-cli-utils 2.1.5): see README.md. Run it from anywhere;
# it writes next to itself.
set -eu
cd "$(dirname "$0")"
unset CIB_file || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
f=$tmp/cib.xml

cibadmin --empty >"$f"
export CIB_file=$f
crm_attribute --type crm_config --name stonith-enabled --update false
cibadmin --create -o nodes -X '<node id="1" uname="node1"/>'
cibadmin --create -o nodes -X '<node id="2" uname="node2"/>'
cibadmin --create -o resources -X '
<group id="web">
  <primitive id="web-ip" class="ocf" provider="heartbeat" type="IPaddr2">
    <instance_attributes id="web-ip-ia">
      <nvpair id="web-ip-ip" name="ip" value="192.0.2.10"/>
    </instance_attributes>
    <operations><op id="web-ip-monitor" name="monitor" interval="10s"/></operations>
  </primitive>
  <primitive id="web-app" class="ocf" provider="pacemaker" type="Dummy">
    <operations><op id="web-app-monitor" name="monitor" interval="10s"/></operations>
  </primitive>
</group>'
cibadmin --create -o resources -X '
<primitive id="db" class="ocf" provider="pacemaker" type="Dummy">
  <operations><op id="db-monitor" name="monitor" interval="10s"/></operations>
</primitive>'
cibadmin --create -o resources -X '
<clone id="health-clone">
  <primitive id="health" class="ocf" provider="pacemaker" type="Dummy">
    <operations><op id="health-monitor" name="monitor" interval="10s"/></operations>
  </primitive>
</clone>'
cibadmin --create -o constraints -X '<rsc_location id="web-prefers-node1" rsc="web" node="node1" score="100"/>'
cibadmin --create -o constraints -X '<rsc_location id="db-prefers-node2" rsc="db" node="node2" score="100"/>'
unset CIB_file

# Both nodes join with quorum and the cluster starts everything.
crm_simulate --simulate --xml-file "$f" --save-output "$f" --node-up node1 --node-up node2 --quorum 1 --quiet
crm_simulate --simulate --xml-file "$f" --save-output "$f" --quiet
cp "$f" two-node.xml

# node2 leaves the cluster; its resources are recovered on node1.
crm_simulate --xml-file two-node.xml --save-output node-offline.xml --node-down node2 --quiet
crm_simulate --simulate --xml-file node-offline.xml --save-output node-offline.xml --quiet

# db's stop on node2 failed: without fencing the resource is FAILED and
# blocked until someone cleans it up.
crm_simulate --xml-file two-node.xml --save-output failed-resource.xml --op-inject db_stop_0@node2=1 --quiet
crm_simulate --simulate --xml-file failed-resource.xml --save-output failed-resource.xml --quiet

# db's monitor on node2 failed once; the cluster restarted it, and the failed
# action stays recorded.
crm_simulate --xml-file two-node.xml --save-output failed-action.xml --op-inject db_monitor_10000@node2=1 --quiet
crm_simulate --simulate --xml-file failed-action.xml --save-output failed-action.xml --quiet

chmod 0644 ./*.xml
grep -m1 -o 'crm_feature_set="[^"]*"' ./*.xml
