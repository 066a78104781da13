// A loopback SMSC for the SMPP sender's test, on the npm `smpp` package (0.5.1).
//
//   node smsc.js <record-file> <system_id> <password>
//
// Listens on an ephemeral 127.0.0.1 port and prints `listening <port>` once ready. Accepts
// bind_transmitter (and bind_transceiver) with exactly these credentials, refuses others
// with ESME_RBINDFAIL, and appends every submit_sm as one JSON line to <record-file>.
'use strict';

const fs = require('fs');
const smpp = require('smpp');

const [record, systemId, password] = process.argv.slice(2);
if (!record || !systemId || password === undefined) {
  console.error('usage: node smsc.js <record-file> <system_id> <password>');
  process.exit(2);
}

let nextId = 1;

function text(sm) {
  if (sm && typeof sm === 'object' && 'message' in sm) {
    return Buffer.isBuffer(sm.message) ? sm.message.toString('latin1') : String(sm.message);
  }
  return Buffer.isBuffer(sm) ? sm.toString('latin1') : String(sm);
}

const server = smpp.createServer(function (session) {
  let bound = false;
  function bind(pdu) {
    if (pdu.system_id !== systemId || pdu.password !== password) {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      fs.appendFileSync(record, JSON.stringify({ event: 'bind_refused', system_id: pdu.system_id }) + '\n');
      session.close();
      return;
    }
    bound = true;
    session.send(pdu.response({ system_id: 'test-smsc' }));
  }
  session.on('bind_transmitter', bind);
  session.on('bind_transceiver', bind);
  session.on('submit_sm', function (pdu) {
    if (!bound) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const id = String(nextId++);
    fs.appendFileSync(record, JSON.stringify({
      event: 'submit_sm',
      system_id: systemId,
      source_addr: pdu.source_addr,
      source_addr_ton: pdu.source_addr_ton,
      destination_addr: pdu.destination_addr,
      dest_addr_ton: pdu.dest_addr_ton,
      dest_addr_npi: pdu.dest_addr_npi,
      short_message: text(pdu.short_message),
      message_id: id,
    }) + '\n');
    session.send(pdu.response({ message_id: id }));
  });
  session.on('enquire_link', function (pdu) {
    session.send(pdu.response());
  });
  session.on('unbind', function (pdu) {
    session.send(pdu.response());
    session.close();
  });
  session.on('error', function () {});
});

server.listen(0, '127.0.0.1', function () {
  console.log('listening ' + server.address().port);
});
