console.log('building');
